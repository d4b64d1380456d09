import { packageConfig } from '../../tsup.package';

export default packageConfig('neutral');
